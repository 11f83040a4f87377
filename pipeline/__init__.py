"""karaoke-pipeline: screenshots of karaoke schedules in, clean show listings out."""

__version__ = "0.1.0"
