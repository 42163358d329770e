"""The scheduler: finds due hops, starts their runs within a bound, holds a lease."""
