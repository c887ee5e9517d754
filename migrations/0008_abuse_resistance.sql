-- SPEC §11 (abuse resistance). Additive only.
-- Sessions can be ended: tokens whose iat (unix seconds) is before this are refused.
ALTER TABLE `users` ADD `sessions_valid_after` integer;
--> statement-breakpoint
-- Old rate-limit windows are deleted in bounded batches found on this index (cron).
CREATE INDEX `rate_limits_window` ON `rate_limits` (`window`);
--> statement-breakpoint
-- A user's unpaid (CREATED/PAYING) orders are counted on every create (MAX_UNPAID_ORDERS).
CREATE INDEX `orders_user_status` ON `orders` (`user_id`,`status`);
