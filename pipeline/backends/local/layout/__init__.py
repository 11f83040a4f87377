"""Layout: OCR boxes into rows and blocks, a page into regions, table headers and cells."""
