"""The coordinator's desk: the map, the repair queue, the plan, the situation report and exports."""
