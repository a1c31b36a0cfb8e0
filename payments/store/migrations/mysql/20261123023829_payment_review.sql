-- +goose Up
-- modify "payments" table
ALTER TABLE `payments` ADD COLUMN `review_status` enum('OPEN','APPROVED','REJECTED') NULL, ADD COLUMN `review_reason` varchar(1000) NOT NULL DEFAULT '', ADD COLUMN `review_opened_at` datetime(6) NULL, ADD COLUMN `review_closed_at` datetime(6) NULL, ADD COLUMN `review_closed_by` varchar(200) NOT NULL DEFAULT '', ADD INDEX `payment_merchant_id_review_status_id` (`merchant_id`, `review_status`, `id`), ADD INDEX `payment_review_status_id` (`review_status`, `id`);

-- +goose Down
-- reverse: modify "payments" table
ALTER TABLE `payments` DROP INDEX `payment_review_status_id`, DROP INDEX `payment_merchant_id_review_status_id`, DROP COLUMN `review_closed_by`, DROP COLUMN `review_closed_at`, DROP COLUMN `review_opened_at`, DROP COLUMN `review_reason`, DROP COLUMN `review_status`;
