-- Full-text index of the company brain (FTS5, BM25 ranking), kept in step with brain_entities by triggers.
-- External content: the text lives once, in brain_entities.
CREATE VIRTUAL TABLE `brain_fts` USING fts5(name, search_text, content='brain_entities', content_rowid='id', tokenize='unicode61 remove_diacritics 2', prefix='2 3');
--> statement-breakpoint
CREATE TRIGGER `brain_entities_ai` AFTER INSERT ON `brain_entities` BEGIN
  INSERT INTO brain_fts(rowid, name, search_text) VALUES (new.id, new.name, new.search_text);
END;
--> statement-breakpoint
CREATE TRIGGER `brain_entities_ad` AFTER DELETE ON `brain_entities` BEGIN
  INSERT INTO brain_fts(brain_fts, rowid, name, search_text) VALUES ('delete', old.id, old.name, old.search_text);
END;
--> statement-breakpoint
CREATE TRIGGER `brain_entities_au` AFTER UPDATE OF name, search_text ON `brain_entities` BEGIN
  INSERT INTO brain_fts(brain_fts, rowid, name, search_text) VALUES ('delete', old.id, old.name, old.search_text);
  INSERT INTO brain_fts(rowid, name, search_text) VALUES (new.id, new.name, new.search_text);
END;
