"""The one markdown escaper every report table goes through."""

from __future__ import annotations

import pandas as pd

from hotspot.core.markdown import escape_cell, escape_text, frame_table, markdown_table


def test_cells_keep_their_column_and_carry_no_html():
    lines = markdown_table(["place", "n"], [["<script>x</script> | a\nb", 3], ["A\\|B", 1]])
    assert lines[2] == "| &lt;script&gt;x&lt;/script&gt; \\| a b | 3 |"
    assert lines[3] == "| A\\\\\\|B | 1 |"  # a backslash cannot un-escape the pipe
    assert all(line.count(" | ") == 1 for line in lines[2:])


def test_plain_text_is_unchanged():
    assert escape_cell("Castle Baynard") == "Castle Baynard"
    assert escape_text("naive-mean (12 months) 5 %") == "naive-mean (12 months) 5 %"


def test_raw_columns_keep_our_own_markup():
    assert markdown_table(["m"], [["**x**"]], raw=(0,))[2] == "| **x** |"


def test_the_nightly_tables_escape_ward_names():
    frame = pd.DataFrame({"rank": [1], "place": ["<b>Bishopsgate</b>|x"]})
    assert frame_table(frame)[2] == "| 1 | &lt;b&gt;Bishopsgate&lt;/b&gt;\\|x |"


def test_frame_table_writes_floats_to_the_digits_asked_and_blanks_missing_ones():
    frame = pd.DataFrame({"m": ["a|b"], "x": [0.12345], "y": [float("nan")]})
    assert frame_table(frame, digits=2)[2] == "| a\\|b | 0.12 |  |"
    assert frame_table(frame)[2] == "| a\\|b | 0.12345 | nan |"
