"""Feeds from other systems that are not the JSON API: the online-opinion (网络舆情) spreadsheets."""
