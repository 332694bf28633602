CREATE TABLE `approval_votes` (
	`approval_id` text NOT NULL,
	`tenant_id` text NOT NULL,
	`user_id` text NOT NULL,
	`decision` text NOT NULL,
	`comment` text,
	`at` integer NOT NULL,
	PRIMARY KEY(`approval_id`, `user_id`),
	FOREIGN KEY (`approval_id`) REFERENCES `approvals`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`tenant_id`) REFERENCES `tenants`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE TABLE `approvals` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant_id` text NOT NULL,
	`tool` text NOT NULL,
	`arguments` text NOT NULL,
	`agent_id` text NOT NULL,
	`client_name` text,
	`requested_by` text NOT NULL,
	`requested_key` text NOT NULL,
	`profile` text NOT NULL,
	`role` text NOT NULL,
	`policy_version` integer NOT NULL,
	`matched_rules` text NOT NULL,
	`approvals_required` integer NOT NULL,
	`status` text NOT NULL,
	`created_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	`decided_at` integer,
	`outcome` text,
	`error` text,
	`request_record_id` text,
	`execution_record_id` text,
	FOREIGN KEY (`tenant_id`) REFERENCES `tenants`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `approvals_tenant_status` ON `approvals` (`tenant_id`,`status`,`created_at`);--> statement-breakpoint
CREATE TABLE `connector_tools` (
	`tenant_id` text NOT NULL,
	`connector` text NOT NULL,
	`tool` text NOT NULL,
	`status` text NOT NULL,
	`definition` text NOT NULL,
	`hash` text NOT NULL,
	`pending_definition` text,
	`pending_hash` text,
	`approved_by` text NOT NULL,
	`approved_at` integer NOT NULL,
	PRIMARY KEY(`tenant_id`, `connector`, `tool`),
	FOREIGN KEY (`tenant_id`) REFERENCES `tenants`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE TABLE `connectors` (
	`tenant_id` text NOT NULL,
	`name` text NOT NULL,
	`config` text NOT NULL,
	`origin` text NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`tenant_id`, `name`),
	FOREIGN KEY (`tenant_id`) REFERENCES `tenants`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE TABLE `execution_records` (
	`id` text PRIMARY KEY NOT NULL,
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
CREATE UNIQUE INDEX `execution_records_tenant_seq` ON `execution_records` (`tenant_id`,`seq`);--> statement-breakpoint
CREATE INDEX `execution_records_tenant_at` ON `execution_records` (`tenant_id`,`at`);--> statement-breakpoint
-- Append-only: the server never changes or removes a record (tampering with the file directly is what `verify` finds).
CREATE TRIGGER `execution_records_no_update` BEFORE UPDATE ON `execution_records` BEGIN SELECT RAISE(ABORT, 'execution records are append-only'); END;
--> statement-breakpoint
CREATE TRIGGER `execution_records_no_delete` BEFORE DELETE ON `execution_records` BEGIN SELECT RAISE(ABORT, 'execution records are append-only'); END;
