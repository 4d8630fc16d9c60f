// Package audit finds data-quality problems in the warehouse for data stewards. This part
// is duplicate detection: Dynamics-like exact rules, and fuzzy matching that finds what
// those rules cannot.
//
// # Exact rules (what Dynamics does)
//
// A Rule mirrors a Dynamics 365 duplicate detection rule (duplicaterule and its
// duplicateruleconditions): conditions of exact match, same first N or last N characters,
// same date, same date and time, choice label or value; case-insensitive unless the rule
// says otherwise; blanks ignored where the condition says so (always in a rule of one
// condition); all conditions ANDed; optionally active records only. Records that share the
// rule's matchcode are duplicates, so an organisation's own rules give the groups Dynamics
// would find. DefaultRules are the out-of-the-box ones (see there); ParseDataverseRules reads
// an organisation's own from the Web API's JSON (GET
// duplicaterules?$expand=DuplicateRule_DuplicateRuleConditions).
//
// # Fuzzy matching (what Dynamics cannot)
//
// A Model is a fuzzy rule for one table, in the usual record-linkage shape:
//
//  1. Normalise each field once: e-mail trimmed and lower-cased (NormalizeEmail); phone to
//     E.164 digits with the environment's default country (NormalizePhone,
//     Options.CountryCodes); company without legal forms and punctuation
//     (NormalizeCompany); names and towns folded — lower case, German transliteration
//     (ü → ue, ß → ss) before the other diacritics go (Fold) — with their Kölner Phonetik
//     code (Koelner).
//  2. Block: only records that share a blocking key are compared — the e-mail, a phone
//     number, the website, the company name (accounts), a distinctive word of the company
//     name or a distinctive e-mail domain (for people together with the phonetic code of the
//     first or the last name). Keys are OR-ed; a key shared by more than Model.MaxBlock
//     records makes no pairs. Each key's blocks stay small as a table grows, so the pairs
//     compared grow with the records (Stats.PairsCompared; see the benchmark), never as a
//     self-join would.
//  3. Compare each candidate pair field by field into a Level — exact, close (Jaro–Winkler,
//     optimal-string-alignment Damerau–Levenshtein, the same Kölner code, another format of
//     the same number), different, or blank — and detect swapped first and last names.
//  4. Score: the sum of the fields' weights for their levels. The weight of an exact
//     agreement on a name, an e-mail or a company is term-frequency adjusted (agreeing on
//     a name many records have weighs less than on a rare one), and a gate keeps one shared
//     value from making a match: for people the names must agree (or the e-mail), for
//     companies the name. A pair matches when it passes the gate and reaches the threshold.
//  5. Cluster: matched pairs form groups by connected components, strongest pair first, where
//     two parts join only if every record of one fits every record of the other (see
//     cluster), so A~B and B~C do not join A and C when they plainly differ.
//
// Every Group lists every member with the values the rule looked at and the Links that
// joined them: per field the level, the weight and both values, and the score. A group's id
// is a hash of its table, environment and sorted member ids: stable while the members stay.
//
// # Reviews
//
// A steward marks a group or a pair reviewed, not a duplicate, or will fix (RecordReview,
// table dq_reviews from sql/schema/0005_audit.sql); the latest mark per target counts.
// Records marked not a duplicate are never grouped together again, by either kind of rule.
//
// # Where the work runs
//
// All of it runs in Go over the needed columns streamed once from the current-state views
// (one SELECT per table; merged records — merged = true — are left out). The fuzzy functions
// and the normalisers exist only on the modern engine (jaroWinklerSimilarity and
// editDistanceUTF8 from 24.x, normalizeUTF8NFKCCasefold from 26.3); the 18.16 server lacks
// them and even leftUTF8 and trimBoth, and no engine has Kölner Phonetik. Running the
// comparison in Go gives the same groups on both engines by construction. Measured by
// BenchmarkDuplicates (figures in the README): at 1M leads the pairs compared are about
// 10⁵ per table against n²/2 ≈ 6·10¹¹, and CPU time and pairs grow about tenfold from 100k
// to 1M leads; the matching costs about three times a plain read of the same columns in CPU,
// most of it normalising and blocking, and the audit's memory is that of the table's columns
// held once (about 1.2 GB peak RSS at 1M leads, the engine's read 0.4 GB of it).
//
// Measured against the simulator's planted truth (connector/dvsim: duplicate groups with
// realistic noise, and look-alikes that are not duplicates) in duplicates_test.go, on both
// engines.
package audit
