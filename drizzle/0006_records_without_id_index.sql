-- Execution records keep one index, (tenant_id, seq): ids are found through it and the time index is gone,
-- so each group commit writes two fewer pages. Copied in chain order; the append-only triggers come back.
CREATE TABLE `__new_execution_records` (
	`id` text NOT NULL,
	`tenant_id` text NOT NULL,
	`seq` integer NOT NULL,
	`at` integer NOT NULL,
	`kind` text NOT NULL,
	`user_id` text,
	`key_id` text,
	`agent_id` text,
	`client_name` text,
	`profile` text,
	`role` text,
	`tool` text NOT NULL,
	`classification` text,
	`arguments` text NOT NULL,
	`decision` text,
	`matched_rules` text NOT NULL,
	`approval_id` text,
	`status` text NOT NULL,
	`latency_ms` real NOT NULL,
	`error` text,
	`result_digest` text,
	`prev_hash` text NOT NULL,
	`hash` text NOT NULL,
	FOREIGN KEY (`tenant_id`) REFERENCES `tenants`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
INSERT INTO `__new_execution_records`("id", "tenant_id", "seq", "at", "kind", "user_id", "key_id", "agent_id", "client_name", "profile", "role", "tool", "classification", "arguments", "decision", "matched_rules", "approval_id", "status", "latency_ms", "error", "result_digest", "prev_hash", "hash") SELECT "id", "tenant_id", "seq", "at", "kind", "user_id", "key_id", "agent_id", "client_name", "profile", "role", "tool", "classification", "arguments", "decision", "matched_rules", "approval_id", "status", "latency_ms", "error", "result_digest", "prev_hash", "hash" FROM `execution_records` ORDER BY `tenant_id`, `seq`;--> statement-breakpoint
DROP TABLE `execution_records`;--> statement-breakpoint
ALTER TABLE `__new_execution_records` RENAME TO `execution_records`;--> statement-breakpoint
CREATE UNIQUE INDEX `execution_records_tenant_seq` ON `execution_records` (`tenant_id`,`seq`);--> statement-breakpoint
CREATE TRIGGER `execution_records_no_update` BEFORE UPDATE ON `execution_records` BEGIN SELECT RAISE(ABORT, 'execution records are append-only'); END;
--> statement-breakpoint
CREATE TRIGGER `execution_records_no_delete` BEFORE DELETE ON `execution_records` BEGIN SELECT RAISE(ABORT, 'execution records are append-only'); END;