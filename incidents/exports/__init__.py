"""Taking the knowledge base out: as JSON that imports back losslessly (json_document.py, read back by
incidents/imports/json_format.py) or as a zip of Markdown files readable without the product
(markdown_zip.py). Every entry point (the command, the list page's link, the API) calls
`export.export_knowledge_base`, which starts from what the reader may see (selection.py).
"""
