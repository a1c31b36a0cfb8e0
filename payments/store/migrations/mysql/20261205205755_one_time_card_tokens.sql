-- +goose Up
-- modify "vault_cards" table
ALTER TABLE `vault_cards` ADD COLUMN `checkout_session_id` varchar(40) NULL, ADD COLUMN `used_by` varchar(128) NULL;

-- +goose Down
-- reverse: modify "vault_cards" table
ALTER TABLE `vault_cards` DROP COLUMN `used_by`, DROP COLUMN `checkout_session_id`;
