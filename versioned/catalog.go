package versioned

import "io/fs"

// Catalog is a loaded Set whose every file is parsed into a definition of
// type D: a KPI definition, an audit rule, a scoring model. It answers the
// Set's questions with the parsed definitions.
type Catalog[D any] struct {
	set  *Set
	defs map[*File]D
}

// Trees lists the built-in tree (named builtinName in messages) and, when
// dir is not empty, the user's tree userFS, named dir.
func Trees(builtinName string, builtin fs.FS, dir string, userFS fs.FS) []Tree {
	trees := []Tree{{Name: builtinName, FS: builtin}}
	if dir != "" {
		trees = append(trees, Tree{Name: dir, FS: userFS})
	}
	return trees
}

// LoadCatalog loads trees (see Load) and parses every version of every id
// with parse. The first error, of loading or of parsing, is returned.
func LoadCatalog[D any](parse func(*File) (D, error), trees ...Tree) (*Catalog[D], error) {
	set, err := Load(trees...)
	if err != nil {
		return nil, err
	}
	c := &Catalog[D]{set: set, defs: map[*File]D{}}
	for _, id := range set.IDs() {
		for _, f := range set.Versions(id) {
			d, err := parse(f)
			if err != nil {
				return nil, err
			}
			c.defs[f] = d
		}
	}
	return c, nil
}

// IDs lists the ids, sorted.
func (c *Catalog[D]) IDs() []string { return c.set.IDs() }

// Versions lists every version of id, oldest first.
func (c *Catalog[D]) Versions(id string) []D { return c.all(c.set.Versions(id)) }

// Defaults lists the default version of every id (see Set.Default), sorted
// by id.
func (c *Catalog[D]) Defaults() []D { return c.all(c.set.Defaults()) }

// All lists every version of every id, by id and then oldest first.
func (c *Catalog[D]) All() []D {
	var out []D
	for _, id := range c.set.IDs() {
		out = append(out, c.Versions(id)...)
	}
	return out
}

// Resolve finds the definition ID or ID@vN names.
func (c *Catalog[D]) Resolve(ref string) (D, error) {
	f, err := c.set.Resolve(ref)
	if err != nil {
		var zero D
		return zero, err
	}
	return c.defs[f], nil
}

func (c *Catalog[D]) all(files []*File) []D {
	var out []D
	for _, f := range files {
		out = append(out, c.defs[f])
	}
	return out
}
