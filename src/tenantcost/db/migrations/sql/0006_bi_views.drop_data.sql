DELETE FROM cost_settings WHERE key = 'shared_cost_allocation';
