// Package fuzzseed seeds native Go fuzz targets with the reference samples
// a package keeps in its testdata directory, so every target starts from
// what the platforms really send.
package fuzzseed
