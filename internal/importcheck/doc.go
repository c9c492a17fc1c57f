// Package importcheck holds the test that keeps shared code free of components: no non-test
// package under internal/ may import, directly or through another package, a package under
// connector/, processor/, exporter/ or extension/. Shared code that needed a component would pull
// that component into every other component that uses the shared package; code that renders or
// drives components belongs with the command or test that uses it (the renderer lives in
// cmd/amas-slo/slorender). Tests of internal packages may still drive components.
package importcheck
