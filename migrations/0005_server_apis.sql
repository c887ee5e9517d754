-- SPEC §9: the buyer's phone number (AES-GCM sealed like session_key) and one shipping record per paid order.
ALTER TABLE `users` ADD `phone_enc` text;--> statement-breakpoint
CREATE TABLE `shippings` (
	`order_id` text PRIMARY KEY NOT NULL,
	`status` text NOT NULL,
	`logistics_type` text,
	`parcels` text,
	`is_all_delivered` integer,
	`source` text,
	`idempotency_key` text,
	`request_hash` text,
	`attempts` integer DEFAULT 0 NOT NULL,
	`uploads` integer DEFAULT 0 NOT NULL,
	`last_error` text,
	`outcome_unknown` integer DEFAULT false NOT NULL,
	`upload_time` text,
	`next_attempt_at` integer,
	`lease_until` integer,
	`uploaded_at` integer,
	`received_at` integer,
	`settled_at` integer,
	`last_checked_at` integer,
	`overdue_flagged_at` integer,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `shippings_status_next` ON `shippings` (`status`,`next_attempt_at`);
