"""Backfill: hash and match a large archive in parallel, resumable, on one machine or Ray."""
