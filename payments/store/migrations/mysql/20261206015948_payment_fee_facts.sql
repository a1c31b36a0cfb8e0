-- +goose Up
-- modify "payments" table
ALTER TABLE `payments` ADD COLUMN `card_scheme` varchar(32) NOT NULL DEFAULT '', ADD COLUMN `region` varchar(16) NOT NULL DEFAULT '';
-- modify "settlement_lines" table
ALTER TABLE `settlement_lines` ADD COLUMN `splits` json NULL;

-- +goose Down
-- reverse: modify "settlement_lines" table
ALTER TABLE `settlement_lines` DROP COLUMN `splits`;
-- reverse: modify "payments" table
ALTER TABLE `payments` DROP COLUMN `region`, DROP COLUMN `card_scheme`;
