CREATE TABLE `wx_push_events` (
	`id` text PRIMARY KEY NOT NULL,
	`dedupe_key` text NOT NULL,
	`event` text NOT NULL,
	`transaction_id` text,
	`merchant_trade_no` text,
	`order_id` text,
	`create_time` integer NOT NULL,
	`format` text NOT NULL,
	`body` text NOT NULL,
	`status` text NOT NULL,
	`last_error` text,
	`received_at` integer NOT NULL,
	`processed_at` integer
);
--> statement-breakpoint
CREATE UNIQUE INDEX `wx_push_events_dedupe_key_unique` ON `wx_push_events` (`dedupe_key`);--> statement-breakpoint
CREATE INDEX `wx_push_events_order` ON `wx_push_events` (`order_id`,`received_at`);--> statement-breakpoint
CREATE INDEX `wx_push_events_status` ON `wx_push_events` (`status`,`received_at`);
