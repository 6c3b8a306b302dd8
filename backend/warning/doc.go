// Package warning is the pure statistics of the early-warning engine: the
// aberration-detection rules over daily case counts, with no I/O. Every
// function takes a series of daily counts (counts[i] is the count of day i,
// oldest first) and the index t of the day being assessed, and looks only at
// counts[..t]; none keeps state, so the engine can re-evaluate a rule for one
// (region, disease) or (region, symptom group) series whenever a report
// arrives, at a cost that depends on the rule's window, not on the length of
// the history.
//
// # Rules
//
//   - EARS C1, C2 and C3 (CDC Early Aberration Reporting System), exactly as
//     the R package surveillance computes them in earsC (R/earsC.R): see C1,
//     C2, C3, UpperC1, UpperC2, UpperC3 and the Alarm functions.
//   - The moving percentile method of China's CIDARS: see Percentile and CIDARS.
//   - A fixed threshold (count >= k) and a cluster rule (at least N cases in
//     D days): see FixedThreshold and Cluster.
//
// # Counts
//
// Counts are float64 so that they feed the arithmetic directly; they are
// expected to be non-negative whole numbers. A return value ok == false means
// that the series does not hold enough history before t for the rule (or that
// t or a parameter is out of range); the other results are then zero.
package warning
