"""Plain text from the documentation formats of Debian's doc packages (standard library only),
one module per format.

:mod:`.html` (``html_to_text``)
    HTML pages (Sphinx, rustdoc, mdBook, javadoc, DocBook, Texinfo): page chrome is dropped
    (``<head>``, ``<script>``, ``<style>``, ``<nav>``, ``<header>``, ``<footer>``, forms, and
    elements whose class, id or ARIA role marks a sidebar, search widget, navigation bar, source
    link or permalink); headings, paragraphs, list items, table cells and ``<pre>`` blocks are kept,
    one block per line. Whitespace runs are collapsed outside ``<pre>``; inside, lines are kept
    (trailing spaces dropped). Entities are unescaped.
:mod:`.roff` (``roff_to_text``)
    Manual pages as written by Pod::Man (Perl's module documentation): macros become paragraph
    breaks and headings, ``.Vb``/``.Ve`` and ``.nf``/``.fi`` blocks stay verbatim, font, size and
    special-character escapes are resolved.
:mod:`.ri` (``ri_to_text``)
    Ruby's ``ri`` files (RDoc objects in Ruby's Marshal 4.8 format): the title, calling
    sequence and comment of a class, module, method or page, as RDoc markup text.

Each function returns ``str`` (possibly empty); none raises on malformed input except
``ri_to_text``, which raises ``ValueError`` on a file that is not Marshal data. The text of
``debian-docs-large`` (and so its fingerprint) depends on every byte these functions return.
"""
