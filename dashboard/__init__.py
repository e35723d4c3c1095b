"""`mallcrm dashboard`: the management dashboards served from the BI copy or a role file."""
