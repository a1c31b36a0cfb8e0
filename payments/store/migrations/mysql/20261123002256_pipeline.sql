-- +goose Up
-- modify "payments" table
ALTER TABLE `payments` ADD COLUMN `agreement_id` varchar(40) NULL, ADD COLUMN `idempotency_key` varchar(128) NULL, ADD COLUMN `fee_amount` bigint NOT NULL DEFAULT 0, ADD COLUMN `capture_before` datetime(6) NULL, ADD COLUMN `next_action` json NULL, ADD UNIQUE INDEX `payment_merchant_id_idempotency_key` (`merchant_id`, `idempotency_key`);
-- modify "payment_attempts" table
ALTER TABLE `payment_attempts` MODIFY COLUMN `status` enum('PENDING','ACTION_REQUIRED','AUTHORIZED','CAPTURED','DECLINED','FAILED','UNKNOWN','VOIDED','EXPIRED') NOT NULL DEFAULT 'PENDING', ADD COLUMN `capture` bool NOT NULL DEFAULT 1, ADD COLUMN `last_event_id` varchar(191) NOT NULL DEFAULT '', ADD INDEX `paymentattempt_connector_connector_reference` (`connector`, `connector_reference`);
-- modify "refunds" table
ALTER TABLE `refunds` ADD COLUMN `idempotency_key` varchar(128) NULL, ADD COLUMN `fee_reversed` bigint NOT NULL DEFAULT 0, ADD UNIQUE INDEX `refund_payment_id_idempotency_key` (`payment_id`, `idempotency_key`);
-- create "risk_counters" table
CREATE TABLE `risk_counters` (`id` varchar(40) NOT NULL, `key` varchar(191) NOT NULL, `at` datetime(6) NOT NULL, `value` bigint NOT NULL, PRIMARY KEY (`id`), INDEX `riskcounter_at` (`at`), INDEX `riskcounter_key_at` (`key`, `at`)) CHARSET utf8mb4 COLLATE utf8mb4_bin;
-- create "risk_rules" table
CREATE TABLE `risk_rules` (`id` varchar(40) NOT NULL, `created_at` datetime(6) NOT NULL, `updated_at` datetime(6) NOT NULL, `key` varchar(64) NOT NULL, `kind` varchar(32) NOT NULL, `tier` varchar(32) NOT NULL DEFAULT '', `action` varchar(16) NOT NULL, `enabled` bool NOT NULL DEFAULT 1, `score` bigint NOT NULL DEFAULT 0, `description` varchar(500) NOT NULL DEFAULT '', `params` json NULL, PRIMARY KEY (`id`), UNIQUE INDEX `key` (`key`)) CHARSET utf8mb4 COLLATE utf8mb4_bin;
-- create "routing_rules" table
CREATE TABLE `routing_rules` (`id` varchar(40) NOT NULL, `created_at` datetime(6) NOT NULL, `updated_at` datetime(6) NOT NULL, `key` varchar(64) NOT NULL, `priority` bigint NOT NULL DEFAULT 0, `enabled` bool NOT NULL DEFAULT 1, `match` json NULL, `prefer` json NULL, `split` json NULL, PRIMARY KEY (`id`), UNIQUE INDEX `key` (`key`)) CHARSET utf8mb4 COLLATE utf8mb4_bin;
-- create "agreements" table
CREATE TABLE `agreements` (`id` varchar(40) NOT NULL, `created_at` datetime(6) NOT NULL, `updated_at` datetime(6) NOT NULL, `connector` varchar(64) NOT NULL, `status` enum('PENDING','ACTIVE','TERMINATED','FAILED') NOT NULL DEFAULT 'PENDING', `currency` varchar(3) NOT NULL, `max_amount` bigint NOT NULL DEFAULT 0, `connector_reference` varchar(128) NOT NULL DEFAULT '', `buyer_url` varchar(2048) NOT NULL DEFAULT '', `return_url` varchar(2048) NOT NULL DEFAULT '', `idempotency_key` varchar(128) NOT NULL, `failure_code` varchar(64) NOT NULL DEFAULT '', `last_event_id` varchar(191) NOT NULL DEFAULT '', `terminated_at` datetime(6) NULL, `merchant_id` varchar(40) NOT NULL, `customer_id` varchar(40) NULL, PRIMARY KEY (`id`), INDEX `agreements_customers_customer` (`customer_id`), INDEX `agreement_connector_connector_reference` (`connector`, `connector_reference`), INDEX `agreement_merchant_id_id` (`merchant_id`, `id`), UNIQUE INDEX `agreement_merchant_id_idempotency_key` (`merchant_id`, `idempotency_key`), CONSTRAINT `agreements_customers_customer` FOREIGN KEY (`customer_id`) REFERENCES `customers` (`id`) ON UPDATE RESTRICT ON DELETE SET NULL, CONSTRAINT `agreements_merchants_merchant` FOREIGN KEY (`merchant_id`) REFERENCES `merchants` (`id`) ON UPDATE RESTRICT ON DELETE NO ACTION) CHARSET utf8mb4 COLLATE utf8mb4_bin;

-- +goose Down
-- reverse: create "agreements" table
DROP TABLE `agreements`;
-- reverse: create "routing_rules" table
DROP TABLE `routing_rules`;
-- reverse: create "risk_rules" table
DROP TABLE `risk_rules`;
-- reverse: create "risk_counters" table
DROP TABLE `risk_counters`;
-- reverse: modify "refunds" table
ALTER TABLE `refunds` DROP INDEX `refund_payment_id_idempotency_key`, DROP COLUMN `fee_reversed`, DROP COLUMN `idempotency_key`;
-- reverse: modify "payment_attempts" table
ALTER TABLE `payment_attempts` DROP INDEX `paymentattempt_connector_connector_reference`, DROP COLUMN `last_event_id`, DROP COLUMN `capture`, MODIFY COLUMN `status` enum('PENDING','ACTION_REQUIRED','AUTHORIZED','CAPTURED','DECLINED','FAILED','UNKNOWN','VOIDED') NOT NULL DEFAULT 'PENDING';
-- reverse: modify "payments" table
ALTER TABLE `payments` DROP INDEX `payment_merchant_id_idempotency_key`, DROP COLUMN `next_action`, DROP COLUMN `capture_before`, DROP COLUMN `fee_amount`, DROP COLUMN `idempotency_key`, DROP COLUMN `agreement_id`;
