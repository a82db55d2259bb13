// seqlab/data/readers.hpp: turning files into a SequenceDataset. One entry point,
// read_dataset(), selects a reader by name; each reader's options are documented below.
//
// A reader never knows about models. Every malformed input is a UserError naming the file,
// line (and column where it helps) and what was expected.
//
// COMMON RULES
//   * Each file list of DatasetFiles is read as ONE stream, files in order; messages name the
//     actual file and its own 1-based line numbers. Columns are 1-based BYTE columns, or
//     "field N" for comma-separated formats.
//   * A missing file, a directory, an empty file or one holding only whitespace is a UserError
//     naming the file. Every unknown option key is a UserError (Options::require_known).
//   * Given splits: train/valid/test come from their files, `all` is train + valid + test (in that
//     order) and split_rule.method = given. Otherwise `all` is read and `split` applied. Giving
//     both `all` and split files is a UserError.
//   * Where a file's own structure delimits sequences (FASTA records, CSV blocks, pieces,
//     patterns, text lines), a file boundary also ends a sequence; text with sequences = file is
//     one sequence over the whole stream.
//   * Alphabets, vocabularies and observed pitch ranges are computed over ALL files of the
//     dataset (every split), so train/valid/test share one encoding.
//   * The symbol readers (text, fasta) refuse a NUL byte anywhere in a file, at the first one:
//     "FILE:LINE:COL: NUL byte (0x00) is not allowed in text" (a model file could not store it).
//   * `fixed_alphabet` is used by the symbol readers (text, fasta) and ignored by the others.
//     A symbol outside it is reported at its FIRST occurrence in the stream (train, valid, test):
//     "FILE:LINE:COL: symbol 'X' is not in the model's alphabet (N symbols)".
//
// "text" (kind symbols). Options:
//   level     = char | token (char). format = plain | spaced | ptb_char (plain; char level only).
//     plain:    the file's bytes, strict UTF-8 (invalid input: "FILE:LINE:COL: invalid UTF-8 byte
//               0xNN (expected UTF-8 text)", naming the first byte of the bad sequence).
//     spaced:   Mikolov's ptb.char.* layout: every symbol is one code point followed by exactly
//               one space ("\n" is a symbol followed by the space that opens the next line); the
//               space after the very last symbol of a file may be missing.
//     ptb_char: derived from a WORD-level PTB file: per line, its whitespace-separated words joined
//               by "_", then the symbol "\n". Reading ptb.char.valid.txt with format = spaced
//               gives the same symbols as ptb.valid.txt with format = ptb_char.
//   Char level: a symbol is one Unicode code point; alphabet = every code point seen, sorted by
//     code point; separator "".
//   Token level: tokens split on ASCII whitespace; separator " ".
//     eos = TOKEN        appended at every line end (PTB: <eos>); in file mode blank lines get one
//                        too; a file's last line gets one even without a final newline.
//     unk = TOKEN        the unknown token (default <unk>).
//     max_vocab = N      0 (default) = no cap. Otherwise the alphabet has at most N symbols, the
//                        unknown token included: the N-1 most frequent other tokens are kept and
//                        the rest map to unk (which then counts their occurrences).
//     Alphabet order: occurrences descending (unk with its merged count), ties by byte order.
//     If unk occurs in the data or the cap removed anything, unk is in the alphabet and is its
//     unknown symbol (Alphabet::set_unknown). eos/unk/max_vocab with level = char are errors.
//   lowercase = true | false (false): ASCII letters only (A-Z -> a-z); other letters are kept.
//   sequences = file | line (file): file = the whole stream is one sequence; line = each line
//     with non-whitespace content is a sequence, without its terminator ("\n" or "\r\n").
// "fasta" (kind symbols): one sequence per record ('>' header lines); bases upper-cased,
//   whitespace ignored. non_acgt = error | skip | keep (error). Alphabet A, C, G, T (always, in
//   that order), then kept other letters sorted. Errors: text before the first header, a record
//   with no bases (also after skipping), a non-letter. With a fixed alphabet the non_acgt rule
//   applies first, then the alphabet's own rule.
// "csv" (kind vectors): delimiter = auto | comma | tab | semicolon (auto: tab for .tsv, else
//   comma); header = auto | true | false (auto: the first row of each file is a header when a
//   non-empty field of it is not a number; names become feature_names; later files' headers must
//   match). sequence_column = NAME: rows grouped into sequences by consecutive equal values of
//   that column (not a feature; needs a header). A blank line always ends a sequence, and so does
//   the end of each file. Cells: finite numbers ("FILE:LINE: field N: expected a finite number,
//   got 'x'"). Rows must all have one width. CRLF tolerated. Each row is one column of d x T.
// "pianoroll" (kind binary_frames): one line per time step, MIDI pitches separated by spaces,
//   "-" alone for a silent step, ONE empty line between sequences (one trailing empty line at the
//   end of a file is tolerated). range = 88 | observed (88): 88 -> row j is pitch 21 + j;
//   observed -> rows are min..max pitch over all files. feature_names = pitch numbers. Errors:
//   pitch not an integer 0..127, outside 21..108 under range = 88, a pitch twice on one line,
//   two empty lines in a row, an empty line before a file's first step.
// "patterns" (kind binary_frames): one pattern per line of comma-separated integers, blank lines
//   skipped. threshold = T: value >= T -> 1 else 0 (without it every value must be 0 or 1).
//   label = last | none (last): the last field is a non-negative integer class label, kept in
//   SequenceSet::labels. frame_width = W (0): 0 -> one frame of all values (T = 1); W > 0 ->
//   T = length / W frames, frame t = values [t*W, (t+1)*W) (an 8x8 image: frame t = image row t).
//   Every pattern has the same length.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "seqlab/data/dataset.hpp"
#include "seqlab/data/options.hpp"

namespace seqlab {

// The files a dataset is read from. Either `all` (one source; splits derived by the rule), or
// `train`/`valid`/`test` (given splits; `all` becomes their concatenation in that order). Each
// list is read as ONE stream, files concatenated in order (e.g. PTB's train part1 + part2).
struct DatasetFiles {
  std::vector<std::filesystem::path> all;
  std::vector<std::filesystem::path> train, valid, test;
  bool given_splits() const { return !train.empty() || !valid.empty() || !test.empty(); }
};

// Requires: `reader` is one of reader_names(); files exist (else UserError naming the file).
// `fixed_alphabet`: when given (symbol readers), symbols are encoded with exactly this alphabet
//   and `unknown` decides what happens to others; when absent the alphabet is built from the data
//   (character level: every code point seen in any file, sorted by code point; token level: see
//   the text reader).
// Ensures: a dataset that passes validate(), with train/valid/test given or derived by `split`
//   (`split` is ignored for given splits), name = `name`, source = the file list.
// Cost: one pass over the bytes of every file (each file is held in memory while it is parsed);
//   character-level text decodes to code points without per-character allocation.
SequenceDataset read_dataset(const std::string& name, const std::string& reader,
                             const Options& options, const DatasetFiles& files,
                             const SplitRule& split, const Alphabet* fixed_alphabet = nullptr,
                             UnknownPolicy unknown = UnknownPolicy::error);

// The reader names and the option keys each accepts (for --help and error messages).
std::vector<std::string> reader_names();
// Requires: `reader` is one of reader_names() (else UserError). Ensures: its option keys, sorted.
std::vector<std::string> reader_option_keys(const std::string& reader);

// Guesses a reader for a plain path from its extension: .fa/.fasta/.fna -> fasta, .csv/.tsv ->
// csv, anything else -> text (character level). Never fails.
std::string guess_reader(const std::filesystem::path& file);

}  // namespace seqlab
