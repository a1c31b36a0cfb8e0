-- +goose Up
-- modify "events" table
ALTER TABLE `events` ADD COLUMN `checkout_session_id` varchar(40) NULL, ADD INDEX `event_checkout_session_id_seq` (`checkout_session_id`, `seq`);

-- +goose Down
-- reverse: modify "events" table
ALTER TABLE `events` DROP INDEX `event_checkout_session_id_seq`, DROP COLUMN `checkout_session_id`;
