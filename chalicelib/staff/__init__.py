"""Staff work lists: overdue reports, reports held for review, unmatched reports, deputies."""
