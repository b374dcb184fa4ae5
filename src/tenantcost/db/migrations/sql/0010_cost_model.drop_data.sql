DELETE FROM cost_settings WHERE key IN ('overhead_allocation', 'control_plane_monthly_cost');
