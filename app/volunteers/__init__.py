"""Volunteer points (志愿者积分): volunteers, teams, activities with QR check-in, the points ledger,
rewards and redemption run as BPMN (bpmn/volunteer_redemption.bpmn). See docs/volunteers.md."""
