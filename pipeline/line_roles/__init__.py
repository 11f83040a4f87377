"""Learned line roles: which OCR line of a screenshot is a venue, a day/time, a host, an address.

The realistic corpus generator knows every text element's role and box, so OCR
lines aligned to those boxes are labelled data for free (``dataset``). Features
carry across sites (type size relative to the line's neighbours, position in its
block, what the tagger found in it, case and length; ``features``), and a small
multinomial logistic regression (``model``) is trained from the committed table
``data/line_roles/lines.csv.gz`` by ``python -m pipeline.line_roles.train``.
The parser asks it one question, as one named stage (``venues``): is the line
a show's venue came from really a venue, and if not, which line near it is.
"""
