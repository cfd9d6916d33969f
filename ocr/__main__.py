"""`python -m ocr`: an OCR worker (see ocr/worker.py)."""

import asyncio

from ocr.worker import main

asyncio.run(main())
