Feature: Service items keep syncing after setup
  Click Finish. All Service Items and Invoices will be synced between Canopy and QBO.
  (docs/rules.md R18: a new Canopy service item is created in QBO with the income account chosen
  at setup, a new QBO service item is created in Canopy, the two are linked; edits and
  deactivation of linked items go both ways, D-13.)

  Background:
    Given setup is finished for the "invoices_linked_and_held" firm, new service items going to the "Uncategorized Income" account

  @R18
  Scenario: A service item created in Canopy is created in QBO with the income account chosen at setup
    When a service item "Quarterly Advisory Retainer" at "450.00" with the SKU "QAR-1" is created in Canopy
    Then QBO holds one Service item "Quarterly Advisory Retainer" at "450.00" with the SKU "QAR-1" and the "Uncategorized Income" income account
    And the sync log shows the Canopy item and that QBO item linked, the QBO item created from Canopy

  @R18
  Scenario: A service item created in QBO appears in Canopy
    When a service item "Quarterly Advisory Retainer" at "450.00" with the SKU "QAR-1" is created in QBO
    Then Canopy holds one service item "Quarterly Advisory Retainer" at "450.00" with the SKU "QAR-1"
    And the sync log shows the QBO item and that Canopy item linked, the Canopy item created from QBO

  @R18
  Scenario: A rate changed on a linked item goes both ways (interpretation D-13)
    Given a service item linked at setup
    When its rate is changed in Canopy to "612.50"
    Then the linked QBO item's rate becomes "612.50"
    When its rate is changed in QBO to "640.00"
    Then the linked Canopy item's rate becomes "640.00"

  @R18
  Scenario: Deactivating a linked item on one side deactivates it on the other (interpretation D-13)
    Given two service items linked at setup
    When the first item is deactivated in Canopy
    Then the first item is inactive in QBO and keeps its name in Canopy
    When the second item is made inactive in QBO
    Then the second item is inactive in Canopy and keeps its name there
