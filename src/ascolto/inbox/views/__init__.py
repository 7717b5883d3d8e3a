"""The agent console (GUIDE §8): conversation list · thread · customer panel.

Views are thin (GUIDE §2): parse, authorize through the membership of the current workspace
(changes need the "write" permission), call the inbox's services or selectors, render. An id of
another workspace is a 404, exactly like an unknown one.

- `console`: pages and htmx fragments (list, counts, conversation, header, thread tail, resync);
- `actions`: replies, notes, macros, status, assignment, priority, tags, handling, availability;
- `macro_pages`: managing macros;
- `context`: what they share (filters, rows, thread items, pane contexts).
"""
