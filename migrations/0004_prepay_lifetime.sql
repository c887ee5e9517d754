-- SPEC §8: a prepay_id's age counts from when WeChat first returned it, and every repeat prepay
-- sends the notify_url stored with the order (byte-identical after WXPAY_NOTIFY_URL changes).
ALTER TABLE `orders` ADD `prepay_issued_at` integer;--> statement-breakpoint
ALTER TABLE `orders` ADD `notify_url` text;
