-- +goose Up
-- create "channel_events" table
CREATE TABLE `channel_events` (`id` varchar(40) NOT NULL, `connector` varchar(64) NOT NULL, `event_id` varchar(255) NOT NULL, `type` varchar(64) NOT NULL, `payment_id` varchar(255) NOT NULL DEFAULT '', `reference` varchar(255) NOT NULL DEFAULT '', `object_id` varchar(255) NOT NULL DEFAULT '', `payload` json NOT NULL, `received_at` datetime(6) NOT NULL, `processed_at` datetime(6) NULL, `attempts` bigint NOT NULL DEFAULT 0, `next_attempt_at` datetime(6) NOT NULL, `last_error` varchar(1024) NOT NULL DEFAULT '', PRIMARY KEY (`id`), UNIQUE INDEX `channelevent_connector_event_id` (`connector`, `event_id`), INDEX `channelevent_processed_at_next_attempt_at` (`processed_at`, `next_attempt_at`)) CHARSET utf8mb4 COLLATE utf8mb4_bin;
-- create "connector_settings" table
CREATE TABLE `connector_settings` (`id` varchar(40) NOT NULL, `created_at` datetime(6) NOT NULL, `updated_at` datetime(6) NOT NULL, `name` varchar(64) NOT NULL, `enabled` bool NOT NULL DEFAULT 1, `fees` json NULL, `limits` json NULL, PRIMARY KEY (`id`), UNIQUE INDEX `name` (`name`)) CHARSET utf8mb4 COLLATE utf8mb4_bin;

-- +goose Down
-- reverse: create "connector_settings" table
DROP TABLE `connector_settings`;
-- reverse: create "channel_events" table
DROP TABLE `channel_events`;
