-- Where the signed checkpoint log (src/records/checkpoints.ts) ended when this store last wrote to it,
-- so a checkpoint file replaced by an older copy or cut short is detected.
CREATE TABLE `checkpoint_log` (
	`id` integer PRIMARY KEY NOT NULL,
	`line` integer NOT NULL,
	`digest` text NOT NULL,
	`at` integer NOT NULL
);
