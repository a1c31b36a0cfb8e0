-- +goose Up
-- modify "webhook_endpoints" table
ALTER TABLE `webhook_endpoints` MODIFY COLUMN `secret` varchar(400) NOT NULL, MODIFY COLUMN `previous_secret` varchar(400) NULL;

-- +goose Down
-- reverse: modify "webhook_endpoints" table
ALTER TABLE `webhook_endpoints` MODIFY COLUMN `previous_secret` varchar(100) NULL, MODIFY COLUMN `secret` varchar(100) NOT NULL;
