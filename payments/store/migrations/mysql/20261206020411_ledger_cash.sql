-- +goose Up
-- modify "ledger_accounts" table
ALTER TABLE `ledger_accounts` MODIFY COLUMN `kind` enum('PENDING','AVAILABLE','RESERVE','DISPUTE_HOLD','RECEIVABLE','FEES','FX','SUSPENSE','IN_TRANSIT','CASH') NOT NULL;

-- +goose Down
-- reverse: modify "ledger_accounts" table
ALTER TABLE `ledger_accounts` MODIFY COLUMN `kind` enum('PENDING','AVAILABLE','RESERVE','DISPUTE_HOLD','RECEIVABLE','FEES','FX','SUSPENSE','IN_TRANSIT') NOT NULL;
