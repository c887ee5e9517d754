CREATE TABLE `bill_diffs` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`bill_date` text NOT NULL,
	`kind` text NOT NULL,
	`out_trade_no` text,
	`out_refund_no` text,
	`detail` text,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `bill_diffs_date` ON `bill_diffs` (`bill_date`);--> statement-breakpoint
CREATE TABLE `flags` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`order_id` text,
	`notification_id` text,
	`kind` text NOT NULL,
	`detail` text,
	`at` integer NOT NULL,
	`resolved_at` integer
);
--> statement-breakpoint
CREATE INDEX `flags_order` ON `flags` (`order_id`,`at`);--> statement-breakpoint
CREATE INDEX `flags_at` ON `flags` (`at`);--> statement-breakpoint
CREATE TABLE `fulfilments` (
	`order_id` text PRIMARY KEY NOT NULL,
	`status` text NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`last_error` text,
	`next_attempt_at` integer NOT NULL,
	`lease_until` integer,
	`created_at` integer NOT NULL,
	`done_at` integer
);
--> statement-breakpoint
CREATE INDEX `fulfilments_due` ON `fulfilments` (`status`,`next_attempt_at`);--> statement-breakpoint
CREATE TABLE `kv` (
	`key` text PRIMARY KEY NOT NULL,
	`value` text NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `notifications` (
	`id` text PRIMARY KEY NOT NULL,
	`event_type` text NOT NULL,
	`order_id` text,
	`out_trade_no` text,
	`transaction_id` text,
	`out_refund_no` text,
	`outcome` text NOT NULL,
	`serial` text,
	`resource` text,
	`received_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `notifications_order` ON `notifications` (`order_id`,`received_at`);--> statement-breakpoint
CREATE INDEX `notifications_out_trade_no` ON `notifications` (`out_trade_no`);--> statement-breakpoint
CREATE TABLE `order_events` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`order_id` text NOT NULL,
	`from_status` text NOT NULL,
	`to_status` text NOT NULL,
	`source` text NOT NULL,
	`detail` text,
	`at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `order_events_order` ON `order_events` (`order_id`,`id`);--> statement-breakpoint
CREATE TABLE `order_items` (
	`order_id` text NOT NULL,
	`line` integer NOT NULL,
	`product_id` text NOT NULL,
	`name` text NOT NULL,
	`quantity` integer NOT NULL,
	`unit_price` integer NOT NULL,
	PRIMARY KEY(`order_id`, `line`),
	FOREIGN KEY (`order_id`) REFERENCES `orders`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE TABLE `orders` (
	`id` text PRIMARY KEY NOT NULL,
	`user_id` text NOT NULL,
	`openid` text NOT NULL,
	`out_trade_no` text NOT NULL,
	`status` text NOT NULL,
	`amount` integer NOT NULL,
	`currency` text DEFAULT 'CNY' NOT NULL,
	`description` text NOT NULL,
	`time_expire` text NOT NULL,
	`expires_at` integer NOT NULL,
	`prepay_id` text,
	`prepay_at` integer,
	`prepay_lock_until` integer,
	`transaction_id` text,
	`paid_at` integer,
	`refunded_amount` integer DEFAULT 0 NOT NULL,
	`idempotency_key` text,
	`request_hash` text,
	`last_query_at` integer,
	`query_count` integer DEFAULT 0 NOT NULL,
	`next_check_at` integer,
	`last_transition_id` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE no action,
	CONSTRAINT "orders_amount_positive" CHECK("orders"."amount" > 0),
	CONSTRAINT "orders_refunded_range" CHECK("orders"."refunded_amount" >= 0 AND "orders"."refunded_amount" <= "orders"."amount")
);
--> statement-breakpoint
CREATE UNIQUE INDEX `orders_out_trade_no_unique` ON `orders` (`out_trade_no`);--> statement-breakpoint
CREATE UNIQUE INDEX `orders_transaction_id_unique` ON `orders` (`transaction_id`);--> statement-breakpoint
CREATE UNIQUE INDEX `orders_user_idempotency` ON `orders` (`user_id`,`idempotency_key`);--> statement-breakpoint
CREATE INDEX `orders_user_created` ON `orders` (`user_id`,`created_at`,`id`);--> statement-breakpoint
CREATE INDEX `orders_status_created` ON `orders` (`status`,`created_at`,`id`);--> statement-breakpoint
CREATE INDEX `orders_created` ON `orders` (`created_at`,`id`);--> statement-breakpoint
CREATE INDEX `orders_next_check` ON `orders` (`next_check_at`);--> statement-breakpoint
CREATE TABLE `platform_certificates` (
	`serial_no` text PRIMARY KEY NOT NULL,
	`public_key_spki` text NOT NULL,
	`certificate_pem` text NOT NULL,
	`effective_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	`fetched_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `products` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`description` text DEFAULT '' NOT NULL,
	`price` integer NOT NULL,
	`currency` text DEFAULT 'CNY' NOT NULL,
	`active` integer DEFAULT true NOT NULL,
	`sort` integer DEFAULT 0 NOT NULL,
	`created_at` integer NOT NULL,
	CONSTRAINT "products_price_positive" CHECK("products"."price" > 0)
);
--> statement-breakpoint
CREATE TABLE `rate_limits` (
	`key` text NOT NULL,
	`window` integer NOT NULL,
	`count` integer NOT NULL,
	PRIMARY KEY(`key`, `window`)
);
--> statement-breakpoint
CREATE TABLE `reconcile_runs` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`trigger` text NOT NULL,
	`started_at` integer NOT NULL,
	`finished_at` integer,
	`report` text
);
--> statement-breakpoint
CREATE INDEX `reconcile_runs_started` ON `reconcile_runs` (`started_at`);--> statement-breakpoint
CREATE TABLE `refunds` (
	`id` text PRIMARY KEY NOT NULL,
	`order_id` text NOT NULL,
	`out_refund_no` text NOT NULL,
	`amount` integer NOT NULL,
	`status` text NOT NULL,
	`reason` text,
	`refund_id` text,
	`idempotency_key` text,
	`request_hash` text,
	`submitted_at` integer,
	`last_query_at` integer,
	`next_check_at` integer,
	`last_transition_id` text,
	`detail` text,
	`created_at` integer NOT NULL,
	`settled_at` integer,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`order_id`) REFERENCES `orders`(`id`) ON UPDATE no action ON DELETE no action,
	CONSTRAINT "refunds_amount_positive" CHECK("refunds"."amount" > 0)
);
--> statement-breakpoint
CREATE UNIQUE INDEX `refunds_out_refund_no_unique` ON `refunds` (`out_refund_no`);--> statement-breakpoint
CREATE UNIQUE INDEX `refunds_order_idempotency` ON `refunds` (`order_id`,`idempotency_key`);--> statement-breakpoint
CREATE INDEX `refunds_order` ON `refunds` (`order_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `refunds_status_check` ON `refunds` (`status`,`next_check_at`);--> statement-breakpoint
CREATE TABLE `users` (
	`id` text PRIMARY KEY NOT NULL,
	`openid` text NOT NULL,
	`unionid` text,
	`session_key_enc` text NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `users_openid_unique` ON `users` (`openid`);