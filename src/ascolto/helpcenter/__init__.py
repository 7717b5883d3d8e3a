"""Help center: articles in several languages, their public pages, search and feedback."""
