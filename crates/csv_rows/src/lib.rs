//! Splitting an uploaded CSV file into rows as its bytes arrive (SPEC ING-5), strictly by
//! RFC 4180, so that one broken row is reported with its line number and the rest of the file
//! still imports.
//!
//! General CSV readers are lenient: a stray quote in the middle of a field is kept as text,
//! and an unclosed quote swallows every following line into one field until the end of the
//! file. For an import that must "reject the bad row and keep the rest" that is the wrong
//! trade, so rows are found here by quote parity (a newline ends a row only outside quotes)
//! and each row is then split strictly:
//! - a quote inside an unquoted field, or text after a closing quote → `broken_quoting`;
//! - a quoted field still open after `MAX_ROW_LINES` lines or `MAX_ROW_BYTES` bytes, or at
//!   the end of the file → `unclosed_quote` for the line it started on, and reading resumes
//!   on the next line, so one unbalanced quote costs one row, not the rest of the file;
//! - bytes that are not UTF-8 → `invalid_utf8`.
//!
//! Checking the number of columns is left to the caller, who knows the header. Positions are
//! absolute byte offsets, so a reader can stop after any row and resume exactly there.

/// The longest a quoted field may run over lines before its row is judged broken.
pub const MAX_ROW_LINES: u64 = 1_000;

/// The largest row accepted, in bytes.
pub const MAX_ROW_BYTES: usize = 1024 * 1024;

/// One row of the file: its fields, or why it was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    /// The line the row starts on (1 is the first line of the file).
    pub line: u64,
    /// Where the next row starts, and on which line: resume from here to continue after
    /// this row.
    pub end: u64,
    pub next_line: u64,
    pub fields: Result<Vec<String>, RowIssue>,
}

/// Why a row could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowIssue {
    pub code: &'static str,
    pub message: String,
}

impl RowIssue {
    fn new(code: &'static str, message: impl Into<String>) -> Self {
        RowIssue {
            code,
            message: message.into(),
        }
    }
}

/// Turns a stream of byte chunks into rows. Feed chunks with `push`, then call `finish`.
#[derive(Debug)]
pub struct RowSplitter {
    /// Bytes not yet turned into rows; `buffer[0]` is at absolute offset `start`.
    buffer: Vec<u8>,
    start: u64,
    /// The line `buffer[0]` is on.
    line: u64,
    /// How far the current row has been scanned, and what was found so far.
    scanned: usize,
    in_quotes: bool,
    newlines: u64,
    /// Whether the start of the file has been seen (to drop a byte-order mark).
    at_file_start: bool,
    /// The header's width, once known: a row spanning lines with another width is taken
    /// for an unclosed quote.
    columns: Option<usize>,
}

impl RowSplitter {
    /// A splitter for a file read from its first byte.
    pub fn new() -> Self {
        Self::resume_at(0, 1)
    }

    /// A splitter continuing at byte `offset`, which is on line `line` and starts a row
    /// (a `Row::end` and the line after that row, as recorded by an earlier reader).
    pub fn resume_at(offset: u64, line: u64) -> Self {
        RowSplitter {
            buffer: Vec::new(),
            start: offset,
            line,
            scanned: 0,
            in_quotes: false,
            newlines: 0,
            at_file_start: offset == 0,
            columns: None,
        }
    }

    /// Tells the splitter how many columns every row has (the header's).
    pub fn expect_columns(&mut self, columns: usize) {
        self.columns = Some(columns);
    }

    /// The line the next row starts on.
    pub fn next_line(&self) -> u64 {
        self.line
    }

    /// Adds the next bytes of the file; answers the rows they complete, in order.
    pub fn push(&mut self, bytes: &[u8], rows: &mut Vec<Row>) {
        self.buffer.extend_from_slice(bytes);
        if self.at_file_start {
            if self.buffer.len() < 3 && b"\xEF\xBB\xBF".starts_with(&self.buffer) {
                return;
            }
            self.at_file_start = false;
            if self.buffer.starts_with(b"\xEF\xBB\xBF") {
                self.buffer.drain(..3);
                self.start += 3;
            }
        }
        self.split(false, rows);
    }

    /// Ends the file: answers the last rows, including one without a final newline.
    pub fn finish(&mut self, rows: &mut Vec<Row>) {
        self.at_file_start = false;
        self.split(true, rows);
    }

    fn split(&mut self, at_end: bool, rows: &mut Vec<Row>) {
        loop {
            let mut complete = None;
            while self.scanned < self.buffer.len() {
                let byte = self.buffer[self.scanned];
                self.scanned += 1;
                match byte {
                    b'"' => self.in_quotes = !self.in_quotes,
                    b'\n' if !self.in_quotes => {
                        complete = Some(self.scanned);
                        break;
                    }
                    b'\n' => {
                        self.newlines += 1;
                        if self.newlines >= MAX_ROW_LINES {
                            break;
                        }
                    }
                    _ => {}
                }
                if self.scanned > MAX_ROW_BYTES && self.in_quotes {
                    break;
                }
            }
            let row_len = match complete {
                Some(len) => len,
                None if self.in_quotes
                    && (self.newlines >= MAX_ROW_LINES || self.scanned > MAX_ROW_BYTES || at_end) =>
                {
                    self.reject_first_line(rows);
                    continue;
                }
                None if at_end && !self.buffer.is_empty() => self.buffer.len(),
                None if self.scanned > MAX_ROW_BYTES => {
                    self.skip(
                        self.buffer.len(),
                        rows,
                        RowIssue::new(
                            "too_long",
                            format!("a row may hold at most {MAX_ROW_BYTES} bytes"),
                        ),
                    );
                    continue;
                }
                None => return,
            };
            let content = trim_line_end(&self.buffer[..row_len]);
            if content.iter().all(|b| b.is_ascii_whitespace()) {
                self.take(row_len);
                continue;
            }
            let fields = split_fields(content);
            let spans_lines = content.contains(&b'\n');
            let fits = match (&fields, self.columns) {
                (Err(_), _) => false,
                (Ok(fields), Some(columns)) => fields.len() == columns,
                (Ok(_), None) => true,
            };
            if spans_lines && !fits {
                // A quote opened on this line probably never closed and took the next lines
                // with it: refuse this line alone and read the following ones again.
                self.reject_first_line(rows);
                continue;
            }
            let line = self.line;
            self.take(row_len);
            rows.push(Row {
                line,
                end: self.start,
                next_line: self.line,
                fields,
            });
        }
    }

    /// Drops the first `len` bytes of the buffer, which the row just read held.
    fn take(&mut self, len: usize) {
        let newlines = self.buffer[..len].iter().filter(|&&b| b == b'\n').count() as u64;
        self.buffer.drain(..len);
        self.start += len as u64;
        self.line += newlines;
        self.scanned = 0;
        self.in_quotes = false;
        self.newlines = 0;
    }

    /// The row starting here opened a quote that never closed: refuse its first line and
    /// read on from the next one.
    fn reject_first_line(&mut self, rows: &mut Vec<Row>) {
        let first_line_len = self
            .buffer
            .iter()
            .position(|&b| b == b'\n')
            .map_or(self.buffer.len(), |p| p + 1);
        // Name the first line's own fault when it has one (`ab"c` is a stray quote, not
        // an unclosed one).
        let issue = match split_fields(trim_line_end(&self.buffer[..first_line_len])) {
            Err(issue) if issue.code != "unclosed_quote" => issue,
            _ => RowIssue::new(
                "unclosed_quote",
                "a quoted field is never closed; close it, or double quotes inside quoted text (\"\")",
            ),
        };
        self.skip(first_line_len, rows, issue);
    }

    fn skip(&mut self, len: usize, rows: &mut Vec<Row>, issue: RowIssue) {
        let line = self.line;
        self.take(len);
        rows.push(Row {
            line,
            end: self.start,
            next_line: self.line,
            fields: Err(issue),
        });
    }
}

impl Default for RowSplitter {
    fn default() -> Self {
        Self::new()
    }
}

fn trim_line_end(bytes: &[u8]) -> &[u8] {
    let bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    bytes.strip_suffix(b"\r").unwrap_or(bytes)
}

/// Splits one row's bytes into fields by RFC 4180.
pub fn split_fields(row: &[u8]) -> Result<Vec<String>, RowIssue> {
    let text = std::str::from_utf8(row).map_err(|error| {
        RowIssue::new(
            "invalid_utf8",
            format!(
                "the row is not valid UTF-8 (byte {}); save the file as UTF-8",
                error.valid_up_to() + 1
            ),
        )
    })?;
    let mut fields = Vec::new();
    let mut rest = text;
    loop {
        if let Some(quoted) = rest.strip_prefix('"') {
            let mut field = String::new();
            let mut remaining = quoted;
            loop {
                let Some(close) = remaining.find('"') else {
                    return Err(RowIssue::new("unclosed_quote", "a quoted field is never closed"));
                };
                field.push_str(&remaining[..close]);
                remaining = &remaining[close + 1..];
                if let Some(after_escape) = remaining.strip_prefix('"') {
                    field.push('"');
                    remaining = after_escape;
                } else {
                    break;
                }
            }
            fields.push(field);
            if remaining.is_empty() {
                return Ok(fields);
            }
            match remaining.strip_prefix(',') {
                Some(next) => rest = next,
                None => {
                    return Err(RowIssue::new(
                        "broken_quoting",
                        format!("field {} has text after its closing quote", fields.len()),
                    ))
                }
            }
        } else {
            let end = rest.find(',').unwrap_or(rest.len());
            let field = &rest[..end];
            if field.contains('"') {
                return Err(RowIssue::new(
                    "broken_quoting",
                    format!(
                        "field {} has a quote inside unquoted text; quote the whole field and double the quote (\"\")",
                        fields.len() + 1
                    ),
                ));
            }
            fields.push(field.to_owned());
            if end == rest.len() {
                return Ok(fields);
            }
            rest = &rest[end + 1..];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rows_of(file: &[u8], chunk: usize) -> Vec<Row> {
        let mut splitter = RowSplitter::new();
        let mut rows = Vec::new();
        for piece in file.chunks(chunk.max(1)) {
            splitter.push(piece, &mut rows);
        }
        splitter.finish(&mut rows);
        rows
    }

    fn fields(rows: &[Row]) -> Vec<Result<Vec<String>, &'static str>> {
        rows.iter()
            .map(|r| r.fields.clone().map_err(|issue| issue.code))
            .collect()
    }

    fn write_csv(table: &[Vec<String>]) -> Vec<u8> {
        let mut writer = csv::WriterBuilder::new().flexible(true).from_writer(Vec::new());
        for row in table {
            writer.write_record(row).unwrap();
        }
        writer.into_inner().unwrap()
    }

    /// Rows a CSV writer can express and that are not blank lines.
    fn table() -> impl Strategy<Value = Vec<Vec<String>>> {
        let field = prop_oneof!["[a-z0-9 ]{0,8}", "[a-z\",\n\r]{0,8}", any::<String>(),];
        prop::collection::vec(prop::collection::vec(field, 1..5), 0..12).prop_map(|rows| {
            rows.into_iter()
                .filter(|row| !(row.len() == 1 && row[0].trim().is_empty()))
                .collect()
        })
    }

    proptest! {
        /// Whatever a standard CSV writer produces reads back exactly, however the bytes
        /// are cut into chunks.
        #[test]
        fn reads_back_what_a_csv_writer_wrote(table in table(), chunk in 1usize..64) {
            let file = write_csv(&table);
            let rows = rows_of(&file, chunk);
            let read: Vec<Vec<String>> = rows.iter().map(|r| r.fields.clone().unwrap()).collect();
            prop_assert_eq!(read, table);
        }

        /// Resuming at any row's end reads exactly the rows after it.
        #[test]
        fn resuming_after_any_row_reads_the_rest(table in table(), cut in any::<prop::sample::Index>()) {
            let file = write_csv(&table);
            let rows = rows_of(&file, 7);
            prop_assume!(!rows.is_empty());
            let at = cut.index(rows.len());
            let mut splitter = RowSplitter::resume_at(rows[at].end, rows[at].next_line);
            let mut rest = Vec::new();
            splitter.push(&file[rows[at].end as usize..], &mut rest);
            splitter.finish(&mut rest);
            prop_assert_eq!(&rest[..], &rows[at + 1..]);
        }

        /// One unclosed quote anywhere costs that row only: every other row still reads.
        #[test]
        fn an_unclosed_quote_costs_one_row(
            lines in prop::collection::vec("[a-z0-9]{1,6},[a-z0-9]{1,6}", 2..30),
            broken in any::<prop::sample::Index>(),
        ) {
            let broken = broken.index(lines.len());
            let mut file = String::new();
            for (i, line) in lines.iter().enumerate() {
                if i == broken {
                    file.push_str("\"open,");
                }
                file.push_str(line);
                file.push('\n');
            }
            let rows = rows_of(file.as_bytes(), 5);
            prop_assert_eq!(rows.len(), lines.len());
            for (i, row) in rows.iter().enumerate() {
                prop_assert_eq!(row.line, i as u64 + 1);
                prop_assert_eq!(row.fields.is_err(), i == broken);
            }
        }
    }

    #[test]
    fn broken_rows_are_reported_with_their_line_and_the_rest_are_read() {
        let file = b"a,b\nok,1\nab\"c,2\n\"x\"y,3\n\xff\xfe,4\nlast,5";
        let rows = rows_of(file, 3);
        assert_eq!(
            rows.iter().map(|r| r.line).collect::<Vec<_>>(),
            [1, 2, 3, 4, 5, 6]
        );
        assert_eq!(
            fields(&rows),
            [
                Ok(vec!["a".into(), "b".into()]),
                Ok(vec!["ok".into(), "1".into()]),
                Err("broken_quoting"),
                Err("broken_quoting"),
                Err("invalid_utf8"),
                Ok(vec!["last".into(), "5".into()]),
            ]
        );
    }

    #[test]
    fn quoted_newlines_keep_a_row_together_and_count_lines() {
        let rows = rows_of(b"id,text\r\n1,\"two\r\nlines\"\r\n\r\n2,x\r\n", 4);
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[1].fields, Ok(vec!["1".into(), "two\r\nlines".into()]));
        assert_eq!((rows[1].line, rows[2].line), (2, 5));
    }

    #[test]
    fn a_byte_order_mark_is_dropped_even_when_split() {
        let rows = rows_of(b"\xEF\xBB\xBFsku,name\n", 1);
        assert_eq!(rows[0].fields, Ok(vec!["sku".into(), "name".into()]));
    }

    #[test]
    fn an_unclosed_quote_at_the_end_rejects_its_line_and_keeps_the_next() {
        let rows = rows_of(b"h\n\"never closed\nfine\n", 64);
        assert_eq!(fields(&rows)[1], Err("unclosed_quote"));
        assert_eq!(
            (rows[2].line, rows[2].fields.clone()),
            (3, Ok(vec!["fine".into()]))
        );
    }
}
