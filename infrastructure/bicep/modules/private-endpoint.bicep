// One private endpoint for one private link sub-resource, registered in its private DNS zones.

param name string
param location string
param tags object
param subnetId string
param targetResourceId string
param groupId string
param privateDnsZoneNames array

resource endpoint 'Microsoft.Network/privateEndpoints@2023-11-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    subnet: {
      id: subnetId
    }
    privateLinkServiceConnections: [
      {
        name: groupId
        properties: {
          privateLinkServiceId: targetResourceId
          groupIds: [
            groupId
          ]
        }
      }
    ]
  }
}

resource zoneGroup 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups@2023-11-01' = {
  parent: endpoint
  name: 'default'
  properties: {
    privateDnsZoneConfigs: [for zone in privateDnsZoneNames: {
      name: replace(zone, '.', '-')
      properties: {
        privateDnsZoneId: resourceId('Microsoft.Network/privateDnsZones', zone)
      }
    }]
  }
}

output id string = endpoint.id
