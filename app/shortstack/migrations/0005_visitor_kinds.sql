-- Clicks told apart: people, bots and link previews. Expand-only, so that the replicas and workers
-- of the previous version keep working during a deploy: is_bot and bot_click_count keep their
-- meaning (not a person: bots and previews), and previews are counted apart as well.
-- visitor: 'human', 'bot' or 'preview'; NULL for the clicks stored before it was recorded.
ALTER TABLE clicks ADD COLUMN visitor text;
ALTER TABLE links ADD COLUMN preview_click_count bigint NOT NULL DEFAULT 0;
