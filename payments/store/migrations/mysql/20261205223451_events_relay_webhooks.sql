-- +goose Up
-- modify "events" table
ALTER TABLE `events` ADD COLUMN `seq` bigint NULL, ADD INDEX `event_merchant_id_created_at_id` (`merchant_id`, `created_at`, `id`), ADD INDEX `event_object_id_id` (`object_id`, `id`), ADD INDEX `event_seq` (`seq`);
-- create "leases" table
CREATE TABLE `leases` (`id` varchar(64) NOT NULL, `holder` varchar(64) NOT NULL, `expires_at` datetime(6) NOT NULL, `counter` bigint NOT NULL DEFAULT 0, PRIMARY KEY (`id`)) CHARSET utf8mb4 COLLATE utf8mb4_bin;
-- create "webhook_deliveries" table
CREATE TABLE `webhook_deliveries` (`id` varchar(40) NOT NULL, `created_at` datetime(6) NOT NULL, `updated_at` datetime(6) NOT NULL, `merchant_id` varchar(40) NOT NULL, `endpoint_id` varchar(40) NOT NULL, `event_id` varchar(40) NOT NULL, `event_type` varchar(64) NOT NULL, `status` enum('PENDING','SUCCEEDED','FAILED') NOT NULL DEFAULT 'PENDING', `attempts` bigint NOT NULL DEFAULT 0, `next_attempt_at` datetime(6) NOT NULL, `leased_until` datetime(6) NULL, `last_status_code` bigint NULL, `last_error` varchar(300) NOT NULL DEFAULT '', `last_attempt_at` datetime(6) NULL, `delivered_at` datetime(6) NULL, PRIMARY KEY (`id`), UNIQUE INDEX `webhookdelivery_endpoint_id_event_id` (`endpoint_id`, `event_id`), INDEX `webhookdelivery_merchant_id_endpoint_id_id` (`merchant_id`, `endpoint_id`, `id`), INDEX `webhookdelivery_status_next_attempt_at` (`status`, `next_attempt_at`)) CHARSET utf8mb4 COLLATE utf8mb4_bin;
-- create "webhook_endpoints" table
CREATE TABLE `webhook_endpoints` (`id` varchar(40) NOT NULL, `created_at` datetime(6) NOT NULL, `updated_at` datetime(6) NOT NULL, `merchant_id` varchar(40) NOT NULL, `url` varchar(2048) NOT NULL, `description` varchar(200) NOT NULL DEFAULT '', `event_types` json NULL, `status` enum('ENABLED','DISABLED') NOT NULL DEFAULT 'ENABLED', `disabled_reason` varchar(200) NOT NULL DEFAULT '', `secret` varchar(100) NOT NULL, `previous_secret` varchar(100) NULL, `previous_secret_expires_at` datetime(6) NULL, PRIMARY KEY (`id`), INDEX `webhookendpoint_merchant_id_status_id` (`merchant_id`, `status`, `id`)) CHARSET utf8mb4 COLLATE utf8mb4_bin;

-- +goose Down
-- reverse: create "webhook_endpoints" table
DROP TABLE `webhook_endpoints`;
-- reverse: create "webhook_deliveries" table
DROP TABLE `webhook_deliveries`;
-- reverse: create "leases" table
DROP TABLE `leases`;
-- reverse: modify "events" table
ALTER TABLE `events` DROP INDEX `event_seq`, DROP INDEX `event_object_id_id`, DROP INDEX `event_merchant_id_created_at_id`, DROP COLUMN `seq`;
