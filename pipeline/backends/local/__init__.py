"""The offline backend: OCR, then a rule parser in named stages.

1. ``engine`` runs the OCR engine (``tiles`` upscales small images and cuts tall ones)
   and gives ``lines.OcrLine`` boxes.
2. ``tagging`` says what each line is (noise, chrome, a day, a time, karaoke, another
   event) and reads the fields of a line of text.
3. ``layout`` groups the boxes into rows and blocks, cuts the page into regions and
   finds table headers.
4. ``readers`` turn a table, a grid, a pane or a flow of lines into draft shows.
5. ``parser`` runs those stages in order and assembles the ``ParsedSchedule``.
"""
