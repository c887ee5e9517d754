-- SPEC §8: one reconciliation run at a time (a lease row with an expiry), and a daily bill check
-- that can be re-run without duplicating its differences or flags.
CREATE TABLE `reconcile_lease` (
	`id` integer PRIMARY KEY NOT NULL,
	`holder` text NOT NULL,
	`trigger` text NOT NULL,
	`started_at` integer NOT NULL,
	`expires_at` integer NOT NULL
);
--> statement-breakpoint
ALTER TABLE `flags` ADD `dedupe_key` text;--> statement-breakpoint
CREATE UNIQUE INDEX `flags_dedupe` ON `flags` (`dedupe_key`);--> statement-breakpoint
ALTER TABLE `bill_diffs` ADD `diff_key` text;--> statement-breakpoint
CREATE UNIQUE INDEX `bill_diffs_key` ON `bill_diffs` (`bill_date`,`diff_key`);
