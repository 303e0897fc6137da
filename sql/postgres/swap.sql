-- The swap, at the end of the partition's transaction: detach and drop the
-- old partition (if any), then attach the new one under the canonical name.
-- The CHECK constraint added before lets ATTACH skip scanning the rows.
-- Placeholders: detach (the detach-and-drop statements, or a drop of a
-- leftover table of the same name), load, final_name, parent, final, bound.
{detach}
ALTER TABLE {load} RENAME TO {final_name};
ALTER TABLE {parent} ATTACH PARTITION {final} {bound};
