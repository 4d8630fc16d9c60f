package warehouse

// Tokens exposes the read-only check's tokenizer to the external tests:
// each significant token's text, and whether it is a bare word.
func Tokens(q string) (texts []string, words []bool, err error) {
	toks, err := lex(q)
	for _, t := range toks {
		texts = append(texts, t.text)
		words = append(words, t.kind == tokWord)
	}
	return texts, words, err
}
