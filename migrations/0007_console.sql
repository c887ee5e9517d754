-- Operator console (SPEC §10): a note when a flag is resolved, when a product was last edited,
-- and the indexes behind the console's search (by openid) and its SQL aggregates (by paid_at,
-- by settled refund, open flags).
ALTER TABLE `flags` ADD `resolution_note` text;--> statement-breakpoint
ALTER TABLE `products` ADD `updated_at` integer;--> statement-breakpoint
CREATE INDEX `orders_openid_created` ON `orders` (`openid`,`created_at`,`id`);--> statement-breakpoint
CREATE INDEX `orders_paid_at` ON `orders` (`paid_at`);--> statement-breakpoint
CREATE INDEX `refunds_status_settled` ON `refunds` (`status`,`settled_at`);--> statement-breakpoint
CREATE INDEX `flags_resolved_at` ON `flags` (`resolved_at`,`at`);
