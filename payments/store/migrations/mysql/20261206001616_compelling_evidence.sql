-- +goose Up
-- modify "checkout_sessions" table
ALTER TABLE `checkout_sessions` ADD COLUMN `shipping_address` json NULL;
-- modify "payments" table
ALTER TABLE `payments` ADD COLUMN `card_fingerprint` varchar(80) NOT NULL DEFAULT '', ADD COLUMN `buyer_ip` varchar(45) NOT NULL DEFAULT '', ADD COLUMN `buyer_email` varchar(254) NOT NULL DEFAULT '', ADD COLUMN `device_id_hash` varchar(64) NOT NULL DEFAULT '', ADD COLUMN `shipping_address_hash` varchar(64) NOT NULL DEFAULT '', ADD INDEX `payment_merchant_id_card_fingerprint_created_at` (`merchant_id`, `card_fingerprint`, `created_at`);

-- +goose Down
-- reverse: modify "payments" table
ALTER TABLE `payments` DROP INDEX `payment_merchant_id_card_fingerprint_created_at`, DROP COLUMN `shipping_address_hash`, DROP COLUMN `device_id_hash`, DROP COLUMN `buyer_email`, DROP COLUMN `buyer_ip`, DROP COLUMN `card_fingerprint`;
-- reverse: modify "checkout_sessions" table
ALTER TABLE `checkout_sessions` DROP COLUMN `shipping_address`;
