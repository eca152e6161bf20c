package sqlite

import (
	"context"
	"database/sql"
	"fmt"
)

// scanner is what *sql.Row and *sql.Rows have in common, so one scan
// function serves a single-row read and a list.
type scanner interface{ Scan(dest ...any) error }

// collect returns a function that reads every row of a query's result with
// scan, closes it and wraps any error with what was being done. Taking the
// query's two results as they come makes a list read one expression, in a
// transaction or not:
//
//	return collect("list domains", scanDomain)(s.query(ctx, q))
func collect[T any](what string, scan func(scanner) (T, error)) func(*sql.Rows, error) ([]T, error) {
	return func(rows *sql.Rows, err error) ([]T, error) {
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		defer rows.Close()
		var out []T
		for rows.Next() {
			v, err := scan(rows)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", what, err)
			}
			out = append(out, v)
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		return out, nil
	}
}

// queryList runs a read query and scans every row with scan.
func queryList[T any](s *Store, ctx context.Context, what string, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	return collect(what, scan)(s.query(ctx, query, args...))
}

// scanOne reads a one-column row into a value of its type.
func scanOne[T any](sc scanner) (T, error) {
	var v T
	err := sc.Scan(&v)
	return v, err
}
