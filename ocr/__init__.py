"""Reading claim documents by machine: OCR of uploaded scans and photos (Chinese and English), fields extracted
per document layout, on a task queue of its own (`claims-ocr`) so OCR workers scale apart from claims workers."""
