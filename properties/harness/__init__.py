"""What every machine needs: frozen time, coverage targets, profiles, strategies."""
